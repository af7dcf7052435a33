// Does not parse: Runtime.UserCodeSyntaxError.
'use strict';

exports.handler = async (event) => {
  return { event ;
};
