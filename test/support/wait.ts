/**
 * Waiting for something to happen elsewhere (a delivery, a row, a process): the bench's `waitFor`,
 * the one in the project. It lives in bench/src/infra because the bench uses it too and is built on
 * its own, without test/ (.dependency-cruiser.cjs: the bench never imports tests).
 */
export { WaitAbandoned, waitFor, type Reached } from '../../bench/src/infra/wait.js';
