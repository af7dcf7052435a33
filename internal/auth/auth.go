// Package auth issues and checks the API keys of a thaw server started with
// --auth-secret-file: signed tokens that carry a role, an optional list of
// caches and an optional expiry, wrapped in the v1 key format that the
// official Momento SDKs accept.
//
// The gRPC layer calls Signer.Verify on the authorization header of each
// call and Claims.Authorize with the call's action and cache; it maps
// ErrMissingKey, ErrInvalidKey, ErrExpiredKey and ErrRevokedKey to UNAUTHENTICATED and
// ErrPermissionDenied to PERMISSION_DENIED with errors.Is.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sentinel errors, returned wrapped with context.
var (
	// ErrMissingKey means a call carried no key at all.
	ErrMissingKey = errors.New("auth: missing api key")
	// ErrInvalidKey means a key is malformed, forged or signed with another secret.
	ErrInvalidKey = errors.New("auth: invalid api key")
	// ErrExpiredKey means a key's signature is good but its expiry has passed.
	ErrExpiredKey = errors.New("auth: api key expired")
	// ErrRevokedKey means a key's signature is good but its id is on the
	// revocation list.
	ErrRevokedKey = errors.New("auth: api key revoked")
	// ErrPermissionDenied means a valid key does not allow the requested action.
	ErrPermissionDenied = errors.New("auth: permission denied")
)

// Role says which kinds of call a key may make.
type Role string

// The roles a key can carry, from most to least powerful.
const (
	// RoleSuperuser may read, write and manage caches (create, delete, flush, list).
	RoleSuperuser Role = "superuser"
	// RoleReadWrite may read and write items but not manage caches.
	RoleReadWrite Role = "readwrite"
	// RoleReadOnly may only read items.
	RoleReadOnly Role = "readonly"
)

// ParseRole turns a role name as written on the command line or in a token
// into a Role, rejecting unknown names.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleSuperuser, RoleReadWrite, RoleReadOnly:
		return r, nil
	}
	return "", fmt.Errorf("auth: unknown role %q (want superuser, readwrite or readonly)", s)
}

// Action is the kind of access a call needs.
type Action string

// The actions that Authorize checks.
const (
	// ActionRead covers calls that only read a cache (Get, fetches, Subscribe).
	ActionRead Action = "read"
	// ActionWrite covers calls that change items (Set, Delete, Increment, Publish).
	ActionWrite Action = "write"
	// ActionControl covers control-plane calls (CreateCache, DeleteCache,
	// FlushCache, ListCaches).
	ActionControl Action = "control"
)

// Claims is what a key grants.
type Claims struct {
	// ID names the key so that it can be revoked (see RevocationList); it is
	// the token's "jti" claim. Keys made before ids existed have none and can
	// only be refused by rotating the secret.
	ID string
	// Role is the kind of calls the key may make.
	Role Role
	// Caches lists the caches the key may touch; empty means all caches.
	Caches []string
	// ExpiresAt is when the key stops working; the zero time means never.
	// Tokens carry whole seconds, so Verify returns it truncated to the second.
	ExpiresAt time.Time
	// IssuedAt records when the key was made; informational, zero if unknown.
	IssuedAt time.Time
}

// Authorize reports whether the claims allow action on cache, returning an
// error wrapping ErrPermissionDenied if not. Read needs any role, write
// needs readwrite or superuser, control needs superuser. A key with a
// non-empty Caches list may only act on calls that name one of those
// caches; a call that names no cache (cache == "", such as ListCaches) needs
// a key valid for all caches.
func (c Claims) Authorize(action Action, cache string) error {
	if err := c.AuthorizeRole(action); err != nil {
		return err
	}
	if len(c.Caches) > 0 && (cache == "" || !slices.Contains(c.Caches, cache)) {
		if cache == "" {
			return fmt.Errorf("auth: key limited to caches %q may not make calls that span all caches: %w", c.Caches, ErrPermissionDenied)
		}
		return fmt.Errorf("auth: key is not valid for cache %q: %w", cache, ErrPermissionDenied)
	}
	return nil
}

// AuthorizeRole reports whether the key's role allows action at all,
// whatever the cache, returning an error wrapping ErrPermissionDenied if not.
// Calls that span caches but show a scoped key only its own (ListCaches)
// check this and filter.
func (c Claims) AuthorizeRole(action Action) error {
	var allowed bool
	switch action {
	case ActionRead:
		allowed = c.Role == RoleReadOnly || c.Role == RoleReadWrite || c.Role == RoleSuperuser
	case ActionWrite:
		allowed = c.Role == RoleReadWrite || c.Role == RoleSuperuser
	case ActionControl:
		allowed = c.Role == RoleSuperuser
	}
	if !allowed {
		return fmt.Errorf("auth: role %q may not %s: %w", c.Role, actionVerb(action), ErrPermissionDenied)
	}
	return nil
}

// actionVerb names an action for error messages, including unknown ones.
func actionVerb(a Action) string {
	switch a {
	case ActionRead, ActionWrite:
		return string(a)
	case ActionControl:
		return "manage caches"
	}
	return fmt.Sprintf("perform unknown action %q", string(a))
}
