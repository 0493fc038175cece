import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNumber, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import type { PushPublicKeyResource } from '@lantern/domain';
import type { PushSubscriptionRecord } from '@lantern/storage';
import { MAX_ENDPOINT_LENGTH } from './push-endpoint.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

export class PushPublicKeyDto implements PushPublicKeyResource {
  @ApiProperty({
    description: "The VAPID public key (base64url): the browser's `applicationServerKey` for `pushManager.subscribe`.",
  })
  publicKey!: string;
}

export class PushKeysDto {
  @ApiProperty({ description: "The browser's P-256 ECDH public key, base64url (65 bytes)." })
  @IsString()
  @MaxLength(100)
  @Matches(BASE64URL, { message: 'keys.p256dh must be base64url' })
  p256dh!: string;

  @ApiProperty({ description: "The browser's auth secret, base64url (16 bytes)." })
  @IsString()
  @MaxLength(30)
  @Matches(BASE64URL, { message: 'keys.auth must be base64url' })
  auth!: string;
}

/** A browser's PushSubscription, exactly as its `toJSON()` gives it. */
export class RegisterPushSubscriptionDto {
  @ApiProperty({
    description:
      'The push service URL the browser was given: https, by host name (under NODE_ENV=test, a loopback URL too).',
    example: 'https://fcm.googleapis.com/fcm/send/dXJ…',
  })
  @IsString()
  @MaxLength(MAX_ENDPOINT_LENGTH)
  endpoint!: string;

  @ApiPropertyOptional({ description: 'Ignored (what the browser says of its expiry).', nullable: true })
  @IsOptional()
  @IsNumber()
  expirationTime?: number | null;

  @ApiProperty({ type: PushKeysDto })
  @IsObject()
  @ValidateNested()
  @Type(() => PushKeysDto)
  keys!: PushKeysDto;
}

export class UnregisterPushSubscriptionDto {
  @ApiProperty({ description: 'The endpoint of the subscription to remove.' })
  @IsString()
  @MaxLength(MAX_ENDPOINT_LENGTH)
  endpoint!: string;
}

export class PushSubscriptionDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  endpoint!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export function toPushSubscriptionDto(record: PushSubscriptionRecord): PushSubscriptionDto {
  return { id: record.id, endpoint: record.endpoint, createdAt: new Date(record.createdAt).toISOString() };
}
