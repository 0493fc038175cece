import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorBodyDto } from './error-body.dto.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (unknown fields are refused)',
  401: 'Missing, invalid or expired access token',
  403: 'Not allowed for this role',
  404: 'Unknown, or not visible to the caller',
  409: 'Conflicts with the current state',
  429: 'Too many attempts',
};

/** Documents the error answers a route can give, each with the common error body. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorBodyDto })),
  );
}
