// A .cjs handler: _HANDLER=index.handler.
'use strict';

module.exports.handler = async (event) => ({ module: 'cjs', event });
