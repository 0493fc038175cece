import { Body, Controller, Get, Header, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, UserService, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import {
  CreateUserDto,
  ListUsersQueryDto,
  TemporaryPasswordDto,
  toUserDto,
  UpdateUserDto,
  UserDto,
} from './user.dto.js';

@ApiTags('people')
@ApiBearerAuth()
@ApiErrors(401, 403)
@Roles('admin')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UserService) {}

  @Post()
  @ApiOperation({ summary: 'Create a user (admin). A patient login needs role patient and the patientId it is.' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiErrors(400, 409)
  async create(@CurrentActor() actor: Actor, @Body() body: CreateUserDto): Promise<UserDto> {
    return toUserDto(await this.users.create(actor, body));
  }

  @Get()
  @ApiOperation({ summary: 'List users (admin), optionally of one role.' })
  @ApiOkResponse({ type: [UserDto] })
  @ApiErrors(400)
  async list(@Query() query: ListUsersQueryDto): Promise<UserDto[]> {
    return (await this.users.list(query.role)).map(toUserDto);
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Change a user's role or disable / re-enable them (admin).",
    description:
      'A role change or a disable revokes every login of the user at once: their access tokens answer 401 on the next request and their sockets close within 5 s. An admin cannot do either to themselves (403).',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiErrors(400, 404)
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UpdateUserDto,
  ): Promise<UserDto> {
    return toUserDto(await this.users.changeAccount(actor, id, body));
  }

  @Post(':id/reset-password')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: "Reset a user's password to a temporary one, shown once (admin); every login of the user is revoked.",
  })
  @ApiOkResponse({ type: TemporaryPasswordDto })
  @ApiErrors(400, 404)
  async resetPassword(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<TemporaryPasswordDto> {
    return { temporaryPassword: await this.users.resetPassword(actor, id) };
  }
}
