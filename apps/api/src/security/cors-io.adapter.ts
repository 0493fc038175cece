import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';

// Nest's adapter brings its own copy of socket.io: type against that one.
type IoServerOptions = NonNullable<Parameters<IoAdapter['createIOServer']>[1]>;
type IoServer = ReturnType<IoAdapter['createIOServer']>;

/**
 * Socket.IO with the api's CORS policy (CORS_ORIGINS) instead of whatever a gateway declares:
 * no allowed origin by default (same-origin only), else exactly the listed ones. CORS only
 * governs what a browser page may read over HTTP long-polling; a WebSocket is not subject to it,
 * and needs no Origin check here because /live authenticates by the token in the handshake,
 * never by a cookie a foreign page could ride on.
 */
export class CorsIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly origins: readonly string[],
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: IoServerOptions): IoServer {
    // Whatever a gateway declared (e.g. `cors: { origin: true }`) is replaced: one policy for REST and sockets.
    const merged = { ...options } as IoServerOptions;
    delete (merged as Partial<IoServerOptions>).cors;
    if (this.origins.length > 0) merged.cors = { origin: [...this.origins], methods: ['GET', 'POST'] };
    return super.createIOServer(port, merged);
  }
}
