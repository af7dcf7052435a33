// Requires a package that is not installed: Runtime.ImportModuleError.
'use strict';

const missing = require('thaw-no-such-package');

exports.handler = async () => missing;
