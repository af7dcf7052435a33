package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
)

const tokenUsage = `Usage: thaw token <verb> [flags]

Verbs:
  secret   write a new signing secret for 'thaw serve --auth-secret-file'
  create   create an API key signed with a secret
  inspect  verify an API key and print its claims as JSON
  revoke   add an API key's id to a revocation list ('thaw serve --revoked-keys')

Run 'thaw token <verb> --help' for the flags of a verb.
`

// runToken implements 'thaw token': exit 0 on success, 1 when the work
// fails, 2 on bad usage.
func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "thaw token: missing verb\n\n"+tokenUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, tokenUsage)
		return 0
	case "secret":
		return tokenSecret(args[1:], stdout, stderr)
	case "create":
		return tokenCreate(args[1:], stdout, stderr)
	case "inspect":
		return tokenInspect(args[1:], stdout, stderr)
	case "revoke":
		return tokenRevoke(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "thaw token: unknown verb %q\n\n%s", args[0], tokenUsage)
	return 2
}

func tokenSecret(args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("secret", "[--out FILE]", "Write a new random signing secret (64 hex characters) to FILE, or to stdout.")
	out := fs.String("out", "", "write the secret to this `FILE`, created with mode 0600; an existing file is never overwritten")
	if code, ok := parseVerb(fs, args, nil, stdout, stderr); !ok {
		return code
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return fail(stderr, err)
	}
	secret = append(secret, '\n')
	if *out == "" {
		stdout.Write(secret)
		return 0
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fail(stderr, fmt.Errorf("%s exists; not overwriting it, since that would invalidate every key made with it", *out))
	}
	if err != nil {
		return fail(stderr, err)
	}
	_, err = f.Write(secret)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func tokenCreate(args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("create", "--secret-file FILE --role ROLE --endpoint HOST:PORT [--cache NAME]... [--expires DURATION|never]",
		"Print a v1 API key, for CredentialProvider.fromString({apiKey, endpointOverrides}) in the Momento SDKs.\n"+
			"Each key gets a random id, which 'thaw token revoke' adds to a server's revocation list.")
	secretFile := fs.String("secret-file", "", "`FILE` holding the signing secret, the one given to 'thaw serve --auth-secret-file' (required)")
	role := fs.String("role", "", "`ROLE` of the key: superuser (data and cache management), readwrite (data) or readonly (reads) (required)")
	endpoint := fs.String("endpoint", "", "server address `HOST:PORT` stored in the key (required); the SDKs use it only without endpointOverrides")
	expires := keyLifetime{d: defaultKeyLifetime}
	fs.Var(&expires, "expires", "lifetime of the key as a `DURATION` such as 90m, 12h or 7d, or never for a key that does not expire (a warning is printed)")
	var caches stringList
	fs.Var(&caches, "cache", "limit the key to the cache `NAME`; repeat for several caches; without it the key is valid for all caches")
	if code, ok := parseVerb(fs, args, nil, stdout, stderr); !ok {
		return code
	}
	var problems []string
	if *secretFile == "" {
		problems = append(problems, "--secret-file is required")
	}
	if *endpoint == "" {
		problems = append(problems, "--endpoint is required")
	}
	r, err := auth.ParseRole(*role)
	switch {
	case *role == "":
		problems = append(problems, "--role is required")
	case err != nil:
		problems = append(problems, fmt.Sprintf("--role must be superuser, readwrite or readonly, not %q", *role))
	}
	if slices.ContainsFunc(caches, func(c string) bool { return strings.TrimSpace(c) == "" }) {
		problems = append(problems, "--cache must not be blank")
	}
	if len(problems) > 0 {
		return usageError(fs, stderr, strings.Join(problems, "; "))
	}

	signer, err := loadSigner(*secretFile)
	if err != nil {
		return fail(stderr, err)
	}
	id, err := auth.NewKeyID()
	if err != nil {
		return fail(stderr, err)
	}
	now := time.Now()
	claims := auth.Claims{ID: id, Role: r, Caches: caches, IssuedAt: now}
	if expires.never {
		fmt.Fprintf(stderr, "thaw token: warning: key %s never expires; if it leaks, refuse it with 'thaw token revoke'\n", id)
	} else {
		claims.ExpiresAt = now.Add(expires.d)
	}
	token, err := signer.Sign(claims)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, apikey.EncodeV1(*endpoint, token))
	return 0
}

func tokenInspect(args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("inspect", "--secret-file FILE KEY",
		"Verify KEY (a v1 API key, or the bare token inside one) and print its claims as JSON.\nExits 1 if the key is invalid or expired.")
	secretFile := fs.String("secret-file", "", "`FILE` holding the signing secret the key was made with (required)")
	var keys []string
	if code, ok := parseVerb(fs, args, &keys, stdout, stderr); !ok {
		return code
	}
	switch {
	case *secretFile == "":
		return usageError(fs, stderr, "--secret-file is required")
	case len(keys) != 1:
		return usageError(fs, stderr, fmt.Sprintf("want exactly one KEY, got %d", len(keys)))
	}
	signer, err := loadSigner(*secretFile)
	if err != nil {
		return fail(stderr, err)
	}
	endpoint, token, err := apikey.DecodeV1(keys[0])
	if err != nil {
		endpoint, token = "", keys[0] // a bare token, as sent in the authorization header
	}
	claims, verr := signer.Verify(token, time.Now())
	if verr != nil && !errors.Is(verr, auth.ErrExpiredKey) {
		return fail(stderr, verr)
	}
	out := struct {
		Endpoint  string     `json:"endpoint,omitempty"`
		ID        string     `json:"id,omitempty"`
		Role      auth.Role  `json:"role"`
		Caches    []string   `json:"caches"`
		ExpiresAt *time.Time `json:"expires_at"`
		IssuedAt  *time.Time `json:"issued_at,omitempty"`
		Expired   bool       `json:"expired"`
	}{Endpoint: endpoint, ID: claims.ID, Role: claims.Role, Caches: claims.Caches, Expired: verr != nil}
	if out.Caches == nil {
		out.Caches = []string{} // all caches
	}
	if !claims.ExpiresAt.IsZero() {
		out.ExpiresAt = &claims.ExpiresAt
	}
	if !claims.IssuedAt.IsZero() {
		out.IssuedAt = &claims.IssuedAt
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fail(stderr, err)
	}
	if verr != nil {
		return fail(stderr, verr)
	}
	return 0
}

func tokenRevoke(args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("revoke", "--revoked-keys FILE KEY|--id ID",
		"Add the id of KEY (a v1 API key, or the bare token inside one) to the revocation list FILE,\n"+
			"creating it. A server started with 'thaw serve --revoked-keys FILE' refuses the key within a\n"+
			"second (or at once on SIGHUP). The key's signature is not checked: listing the id of a forged\n"+
			"key refuses nothing real. Keys made before keys had ids cannot be revoked; rotate the secret.")
	file := fs.String("revoked-keys", "", "the revocation list `FILE`, as given to 'thaw serve --revoked-keys' (required)")
	id := fs.String("id", "", "revoke the key with this `ID` (from 'thaw token inspect') instead of giving the key")
	var keys []string
	if code, ok := parseVerb(fs, args, &keys, stdout, stderr); !ok {
		return code
	}
	switch {
	case *file == "":
		return usageError(fs, stderr, "--revoked-keys is required")
	case *id == "" && len(keys) != 1:
		return usageError(fs, stderr, fmt.Sprintf("want exactly one KEY or --id, got %d keys", len(keys)))
	case *id != "" && len(keys) > 0:
		return usageError(fs, stderr, "give a KEY or --id, not both")
	}
	note := "revoked " + time.Now().UTC().Format(time.RFC3339)
	if *id == "" {
		token := keys[0]
		if _, apiKey, err := apikey.DecodeV1(token); err == nil {
			token = apiKey
		}
		var err error
		if *id, err = auth.KeyID(token); err != nil {
			return fail(stderr, err)
		}
	}
	added, err := auth.AppendRevocation(*file, *id, note)
	if err != nil {
		return fail(stderr, err)
	}
	if !added {
		fmt.Fprintf(stdout, "key %s was already revoked in %s\n", *id, *file)
		return 0
	}
	fmt.Fprintf(stdout, "revoked key %s in %s\n", *id, *file)
	return 0
}

// defaultKeyLifetime is how long a key made by 'thaw token create' lasts
// unless --expires says otherwise.
const defaultKeyLifetime = 30 * 24 * time.Hour

// keyLifetime is the --expires flag: a positive duration (Go syntax, or a
// whole number of days such as 30d) or "never".
type keyLifetime struct {
	d     time.Duration
	never bool
}

func (k *keyLifetime) String() string {
	switch {
	case k.never:
		return "never"
	case k.d > 0 && k.d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", k.d/(24*time.Hour))
	}
	return k.d.String()
}

func (k *keyLifetime) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "never" {
		*k = keyLifetime{never: true}
		return nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > int64(math.MaxInt64/(24*time.Hour)) {
			return fmt.Errorf("want a positive number of days such as 30d, got %q", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 90m, 12h or 7d, or never, got %q", v)
		}
	}
	*k = keyLifetime{d: d}
	return nil
}

// newVerbFlags makes the FlagSet of one verb, with a usage text that
// starts with the synopsis and purpose.
func newVerbFlags(verb, synopsis, purpose string) *flag.FlagSet {
	fs := flag.NewFlagSet("thaw token "+verb, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: thaw token %s %s\n\n%s\n\nFlags:\n", verb, synopsis, purpose)
		fs.PrintDefaults()
	}
	return fs
}

// parseVerb parses args, printing usage to stdout for --help and to stderr
// for bad flags. Positional arguments are collected into positional, and
// may then sit before, between or after flags; when positional is nil any
// positional argument is an error. ok is false when the caller must return
// code.
func parseVerb(fs *flag.FlagSet, args []string, positional *[]string, stdout, stderr io.Writer) (code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, to the right stream
	defer func() { fs.Usage = usage }()
	fs.SetOutput(stderr)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			usage()
			return 0, false
		}
		if err != nil { // the flag package has printed the problem
			fmt.Fprintln(stderr)
			usage()
			return 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return 0, true
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" && positional != nil {
			*positional = append(*positional, rest...) // no flags after "--"
			return 0, true
		}
		args = rest
		if positional == nil {
			fmt.Fprintf(stderr, "%s: unexpected argument %q\n\n", fs.Name(), args[0])
			usage()
			return 2, false
		}
		*positional = append(*positional, args[0])
		args = args[1:]
	}
}

// usageError reports a bad command line and returns exit code 2.
func usageError(fs *flag.FlagSet, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n\n", fs.Name(), msg)
	fs.SetOutput(stderr)
	fs.Usage()
	return 2
}

// fail reports an error that is not a usage problem and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "thaw token: %v\n", err)
	return 1
}

// loadSigner reads a secret file and makes a Signer from it.
func loadSigner(path string) (*auth.Signer, error) {
	secret, err := auth.LoadSecret(path)
	if err != nil {
		return nil, err
	}
	return auth.NewSigner(secret)
}
