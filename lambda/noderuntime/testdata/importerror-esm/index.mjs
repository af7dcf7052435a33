// Imports a package that is not installed. As on Lambda this is a plain
// Error (ERR_MODULE_NOT_FOUND), not Runtime.ImportModuleError.
import missing from 'thaw-no-such-package';

export const handler = async () => missing;
