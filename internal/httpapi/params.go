package httpapi

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// credentials is the API key a request carries.
type credentials struct {
	// token is the Authorization header or the token parameter, as sent;
	// "" when neither is. The auth interceptor unwraps it
	// (auth.TokenFromHeader): a "Bearer " prefix and a whole v1 key are
	// accepted as on the gRPC port.
	token string
}

// parseRequest reads a request's query and credentials. Both places for the
// key at once is a 400, as the topics docs say ("If both the header and query
// parameter are provided, the request will fail with a 400 Bad Request",
// https://docs.momentohq.com/topics/api-reference/http-api); thaw applies
// the rule to the cache routes too, whose page shares the two places.
func parseRequest(r *http.Request) (url.Values, credentials, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, credentials{}, fmt.Errorf("%w: the query string is malformed: %v", errBadRequest, err)
	}
	headers := r.Header.Values("Authorization")
	tokens, inQuery := q["token"]
	switch {
	case len(headers) > 0 && inQuery:
		return nil, credentials{}, fmt.Errorf("%w: send the API key in the Authorization header or the token query parameter, not both", errBadRequest)
	case len(headers) > 1 || len(tokens) > 1:
		return nil, credentials{}, fmt.Errorf("%w: send one API key, not several", errBadRequest)
	case len(headers) == 1:
		return q, credentials{token: headers[0]}, nil
	case len(tokens) == 1:
		// A v1 key is standard base64, whose '+' a query string turns into
		// a space unless the sender escaped it; no key has spaces, so put
		// them back.
		return q, credentials{token: strings.ReplaceAll(tokens[0], " ", "+")}, nil
	}
	return q, credentials{}, nil
}

// itemKey returns the key a cache route names: the key parameter, any bytes
// once percent-decoded, or key_base64, base64 of the bytes. The docs
// (https://docs.momentohq.com/cache/develop/api-reference/http-api) require
// exactly one of them and call key_base64 "Base64 URL-encoded"; their example
// (key_base64=ZXhhbXBsZV9rZXk) has no padding. Both alphabets, with or without
// padding, are accepted: '-' and '_' never clash with '+' and '/'.
func itemKey(q url.Values) ([]byte, error) {
	plain, hasPlain := q["key"]
	encoded, hasEncoded := q["key_base64"]
	switch {
	case hasPlain && hasEncoded:
		return nil, fmt.Errorf("%w: give the key as key or as key_base64, not both", errBadRequest)
	case len(plain) > 1 || len(encoded) > 1:
		return nil, fmt.Errorf("%w: give one key, not several", errBadRequest)
	case hasPlain:
		return []byte(plain[0]), nil
	case hasEncoded:
		key, err := decodeBase64(encoded[0])
		if err != nil {
			return nil, fmt.Errorf("%w: key_base64 is not base64: %v", errBadRequest, err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("%w: the key is missing: give it as the key or key_base64 query parameter", errBadRequest)
}

// decodeBase64 decodes the URL or the standard alphabet, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// ttlMillis returns the TTL of a PUT in milliseconds, the unit of the gRPC
// Set. The docs make ttl_seconds a required integer
// (https://docs.momentohq.com/cache/develop/api-reference/http-api, Set
// Value); zero and values above the server's maximum TTL are refused by the
// service's own check, as on the gRPC port.
func ttlMillis(q url.Values) (uint64, error) {
	values, ok := q["ttl_seconds"]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: ttl_seconds is required: the item's time to live, in whole seconds", errBadRequest)
	case len(values) > 1:
		return 0, fmt.Errorf("%w: give ttl_seconds once", errBadRequest)
	}
	seconds, err := strconv.ParseUint(values[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: ttl_seconds must be a whole number of seconds, got %q", errBadRequest, values[0])
	}
	if seconds > math.MaxUint64/1000 {
		return 0, fmt.Errorf("%w: ttl_seconds %d is too large", errBadRequest, seconds)
	}
	return seconds * 1000, nil
}
