import { RequestMethod, ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { DomainExceptionFilter } from './http/domain-exception.filter.js';
import { MQTT_HOOK_SECURITY } from './mqtt-auth/mqtt-hook-secret.guard.js';
import { CorsIoAdapter } from './security/cors-io.adapter.js';
import { securityHeaders } from './security/security-headers.js';
import { StorableTextPipe } from './security/storable-text.pipe.js';

export const API_PREFIX = 'api/v1';

/**
 * Everything about the HTTP surface that is not a route: proxies, protective headers, CORS,
 * prefix, validation, error bodies, OpenAPI. Called by main.ts and by the tests, so tests
 * exercise exactly what users run.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get<LanternConfig>(LANTERN_CONFIG);
  // Client address (login throttling, audit) and protocol (HSTS) from X-Forwarded-* only when the
  // request came through a proxy named in TRUST_PROXY; otherwise anyone could claim any address.
  app.set('trust proxy', config.trustProxy ?? false);
  app.use(...securityHeaders());
  // No CORS_ORIGINS: no CORS headers at all, so browsers keep other sites' pages out (same-origin).
  if (config.corsOrigins !== undefined && config.corsOrigins.length > 0) {
    app.enableCors({
      origin: [...config.corsOrigins],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      maxAge: 600,
    });
  }
  app.useWebSocketAdapter(new CorsIoAdapter(app, config.corsOrigins ?? []));
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      // The FHIR server's base is /fhir/R4 (contract §4.5), as integration engines expect it.
      { path: 'fhir/R4/{*path}', method: RequestMethod.ALL },
    ],
  });
  app.useGlobalPipes(
    new StorableTextPipe(),
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
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          description:
            'MQTT_HOOK_SECRET, sent by the broker to /api/v1/mqtt/* (or as the password of Basic authentication).',
        },
        MQTT_HOOK_SECURITY,
      )
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json', useGlobalPrefix: false });
  return app;
}
