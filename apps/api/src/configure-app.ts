import { RequestMethod, ValidationPipe, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DomainExceptionFilter } from './http/domain-exception.filter.js';

export const API_PREFIX = 'api/v1';

/**
 * Everything about the HTTP surface that is not a route: prefix, validation, error bodies,
 * OpenAPI. Called by main.ts and by the tests, so tests exercise exactly what users run.
 */
export function configureApp(app: INestApplication): INestApplication {
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      // Messages name the field but never echo the value (it may be a password).
      validationError: { target: false, value: false },
    }),
  );
  app.useGlobalFilters(new DomainExceptionFilter());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Lantern API')
      .setDescription(
        'Remote monitoring of implanted and wearable devices: people, devices, readings, alerts. Errors: `{ statusCode, error, message }`.',
      )
      .setVersion('1')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'accessToken from POST /api/v1/auth/login',
      })
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json', useGlobalPrefix: false });
  return app;
}
