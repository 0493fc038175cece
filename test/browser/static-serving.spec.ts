import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { findDashboardDir, isPageRequest } from '../../apps/api/src/dashboard/dashboard-files.js';
import { DashboardModule } from '../../apps/api/src/dashboard/dashboard.module.js';

@Controller('ping')
class PingController {
  @Get()
  ping(): { pong: true } {
    return { pong: true };
  }
}

describe('isPageRequest', () => {
  it('sends client-side routes to the page, and never API, socket, operations or asset paths', () => {
    expect(isPageRequest('GET', '/', 'text/html')).toBe(true);
    expect(isPageRequest('GET', '/patients/8c1b6f0e-3f57-4bb4-9d3c-0a1f2e3d4c5b', 'text/html,*/*')).toBe(true);
    expect(isPageRequest('POST', '/patients/x', 'text/html')).toBe(false);
    expect(isPageRequest('GET', '/api/v1/patients', 'text/html')).toBe(false);
    expect(isPageRequest('GET', '/api', '*/*')).toBe(false);
    expect(isPageRequest('GET', '/socket.io/', '*/*')).toBe(false);
    expect(isPageRequest('GET', '/health', 'text/html')).toBe(false);
    expect(isPageRequest('GET', '/assets/missing.js', '*/*')).toBe(false);
    expect(isPageRequest('GET', '/me', 'application/json')).toBe(false);
  });
});

// Needs the built client (`npm run build:dashboard`; `npm test` builds first).
const built = findDashboardDir() !== null;
(built ? describe : describe.skip)('DashboardModule under Test.createTestingModule', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DashboardModule],
      controllers: [PingController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.setGlobalPrefix('api/v1');
    await app.init();
  });
  const server = (): Server => app.getHttpServer() as Server;

  afterAll(async () => {
    await app?.close();
  });

  it('serves the page at / and for deep links, with assets cached for good', async () => {
    const root = await request(server()).get('/').set('accept', 'text/html').expect(200);
    expect(root.headers['content-type']).toMatch(/text\/html/);
    expect(root.text).toContain('<div id="app">');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(root.text)?.[1];
    expect(script).toBeDefined();
    const asset = await request(server()).get(script!).expect(200);
    expect(asset.headers['cache-control']).toContain('immutable');

    const deep = await request(server())
      .get('/patients/8c1b6f0e-3f57-4bb4-9d3c-0a1f2e3d4c5b')
      .set('accept', 'text/html')
      .expect(200);
    expect(deep.text).toBe(root.text);
    expect(deep.headers['cache-control']).toBe('no-cache');
  });

  it('leaves the API alone: its routes answer, and its unknown routes stay JSON 404s', async () => {
    await request(server()).get('/api/v1/ping').expect(200, { pong: true });
    const missing = await request(server()).get('/api/v1/nothing-here').set('accept', 'text/html').expect(404);
    expect(missing.headers['content-type']).toMatch(/json/);
    await request(server()).get('/assets/missing.js').expect(404);
  });
});
