// A handler in a subdirectory: _HANDLER=lib/app.handler.
'use strict';

exports.handler = async (event) => ({ from: 'lib/app.js', event });
