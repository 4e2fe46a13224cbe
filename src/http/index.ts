export { createHttpApp, REQUEST_ID_HEADER, type HttpAppOptions, type ErrorRenderer } from './app.js';
export { ApiError, ERROR_CATALOG, badRequest, notFound, conflict, forbidden, type ErrorType } from './errors.js';
export { route, type Handler, type Method } from './routes.js';
export { listen, closeOnSignal, type Service } from './serve.js';
