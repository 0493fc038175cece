import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Every error answer of the REST API (contract §3). */
export class ErrorBodyDto {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found', description: 'HTTP reason phrase of the status.' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'Patient 3f0c… not found',
    description: 'What went wrong; a list of messages for validation errors.',
  })
  message!: string | string[];

  @ApiPropertyOptional({ description: 'Only on 500: the id under which the error was logged.' })
  errorId?: string;
}
