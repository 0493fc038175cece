import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, UserService, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { CreateUserDto, ListUsersQueryDto, toUserDto, UserDto } from './user.dto.js';

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
}
