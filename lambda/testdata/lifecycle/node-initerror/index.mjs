// Fails while loading, as a function whose configuration is missing does.
class ConfigError extends Error {}
ConfigError.prototype.name = 'ConfigError';

if (!process.env.DATABASE_URL) {
  throw new ConfigError('DATABASE_URL is not set');
}

export const handler = async () => 'unreachable';
