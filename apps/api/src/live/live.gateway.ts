import { Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { LIVE_NAMESPACE, type AuthenticateAck, type SubscribeAck } from '@lantern/domain';
import { LiveAuthService } from './live-auth.service.js';
import { parsePatientMessage } from './live-message.js';
import { LiveSockets, type LiveNamespace, type LiveSocket } from './live-sockets.js';
import { LiveSubscriptionsService } from './live-subscriptions.service.js';
import { LiveService } from './live.service.js';
import { SocketBroadcaster } from './socket-broadcaster.js';

const BAD_REQUEST: SubscribeAck = { ok: false, error: 'bad_request' };

/**
 * Socket.IO `/live` (contract §2): authenticates the handshake (LiveAuthService), turns
 * subscribe/unsubscribe into calls of LiveSubscriptionsService, and at init hands its namespace to
 * LiveSockets and SocketBroadcaster to the routing as the destination of routed events (rooms per
 * patient). Every handler answers its acknowledgement even when the message is garbage; nothing a
 * client sends can drop the connection.
 */
// CORS: CORS_ORIGINS, applied to every gateway by CorsIoAdapter (apps/api/src/security).
@WebSocketGateway({ namespace: LIVE_NAMESPACE })
export class LiveGateway
  implements OnGatewayInit<LiveNamespace>, OnGatewayConnection<LiveSocket>, OnGatewayDisconnect<LiveSocket>
{
  private readonly logger = new Logger(LiveGateway.name);

  constructor(
    private readonly live: LiveService,
    private readonly sockets: LiveSockets,
    private readonly broadcaster: SocketBroadcaster,
    private readonly auth: LiveAuthService,
    private readonly subscriptions: LiveSubscriptionsService,
  ) {}

  afterInit(namespace: LiveNamespace): void {
    this.sockets.attach(namespace);
    namespace.use((socket, next) => this.auth.handshake(socket, next));
    this.live.attach(this.broadcaster);
  }

  handleConnection(socket: LiveSocket): void {
    this.live.socketConnected(socket.data.principal);
    this.auth.armExpiry(socket);
    this.sockets.joinPerson(socket);
  }

  /**
   * `authenticate` `{ token }`: a renewed access token of the same user (the dashboard refreshes
   * before expiry), so the socket outlives the token that opened it without reconnecting and
   * losing events. The new token must be valid, of a live login, of the same user and role.
   */
  @SubscribeMessage('authenticate')
  async authenticate(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<AuthenticateAck> {
    const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token === '') return { ok: false, error: 'bad_request' };
    return this.auth.renew(socket, token);
  }

  async handleDisconnect(socket: LiveSocket): Promise<void> {
    this.live.socketDisconnected();
    this.auth.disarm(socket);
    await this.subscriptions.releaseAll(socket);
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<SubscribeAck> {
    try {
      const message = parsePatientMessage(body);
      if (!message) return BAD_REQUEST;
      return await this.subscriptions.subscribe(socket, message.patientId);
    } catch (error) {
      this.logger.error(`subscribe failed: ${String(error)}`);
      return BAD_REQUEST;
    }
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<SubscribeAck> {
    try {
      const message = parsePatientMessage(body);
      if (!message) return BAD_REQUEST;
      return await this.subscriptions.unsubscribe(socket, message.patientId);
    } catch (error) {
      this.logger.error(`unsubscribe failed: ${String(error)}`);
      return BAD_REQUEST;
    }
  }
}
