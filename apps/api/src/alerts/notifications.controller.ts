import { Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { NotificationDto, NotificationListQueryDto, NotificationPageDto } from './alert.dto.js';
import { PatientNotificationService } from './patient-notification.service.js';

@ApiTags('me')
@ApiBearerAuth()
@ApiErrors(401, 403)
@Roles('patient')
@Controller('me/notifications')
export class NotificationsController {
  constructor(private readonly notifications: PatientNotificationService) {}

  @Get()
  @ApiOperation({ summary: "The signed-in patient's notifications, newest first." })
  @ApiOkResponse({ type: NotificationPageDto })
  @ApiErrors(400)
  list(@CurrentActor() actor: Actor, @Query() query: NotificationListQueryDto): Promise<NotificationPageDto> {
    return this.notifications.myNotifications(actor, {
      limit: query.limit ?? 50,
      offset: query.offset ?? 0,
      unreadOnly: query.unread === 'true',
    });
  }

  @Post(':id/read')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mark one of your notifications read (idempotent).' })
  @ApiOkResponse({ type: NotificationDto })
  @ApiErrors(400, 404)
  markRead(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<NotificationDto> {
    return this.notifications.markRead(actor, id);
  }
}
