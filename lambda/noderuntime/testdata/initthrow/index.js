// Throws while loading: an init error whose errorType is the error's name.
'use strict';

class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

throw new ConfigError('DATABASE_URL is not set');
