package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

// String joins the values with commas.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set appends v, so that each use of the flag adds one value.
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// byteSize is a flag holding a size in bytes, written as a plain number or
// with a unit, in any case: 512KiB, 64MiB, 1GiB, 2TiB (powers of 1024) or
// 5KB, 5MB, 1GB, 2TB (powers of 1000), or 100B. Sizes that do not fit in an
// int64 are refused rather than wrapped.
type byteSize int64

// byteUnits are the units byteSize accepts; B comes last because every other
// suffix ends in it.
var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
	{"B", 1},
}

// String writes the size with the largest unit that divides it exactly, so
// that defaults read as they were written: 1GiB, 5MB.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, suffix := range []string{"TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "KB"} {
		for _, u := range byteUnits {
			if u.suffix == suffix && n >= u.factor && n%u.factor == 0 {
				return strconv.FormatInt(n/u.factor, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set parses a size; it refuses negative sizes, fractions, unknown units and
// any number times unit that does not fit in an int64.
func (b *byteSize) Set(value string) error {
	v := strings.TrimSpace(value)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(v), strings.ToUpper(u.suffix)) {
			v, factor = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	tooLarge := err == nil && n > math.MaxInt64/factor ||
		errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-")
	if tooLarge {
		return fmt.Errorf("size %q is too large: the largest accepted is %d bytes, 1 byte short of %dTiB",
			value, int64(math.MaxInt64), int64(math.MaxInt64)>>40+1)
	}
	if err != nil || n < 0 {
		return fmt.Errorf("want a size such as 1048576, 512KiB, 64MiB or 5MB, got %q", value)
	}
	*b = byteSize(n * factor)
	return nil
}

// commandFlags is the flag set of one subcommand with its usage text.
type commandFlags struct {
	*flag.FlagSet
	stderr io.Writer
}

// newCommandFlags returns a flag set whose --help prints usage (the lines
// before the flag list: a usage line, a blank line and a description) and the
// flags, to stderr.
func newCommandFlags(name string, stderr io.Writer, usage ...string) commandFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, line := range usage {
			fmt.Fprintln(stderr, line)
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return commandFlags{FlagSet: fs, stderr: stderr}
}

// parse parses args and refuses positional arguments. When it returns false
// the command should exit with the code it gives: 0 after --help, 2 after a
// usage error (already reported).
func (c commandFlags) parse(args []string) (exitCode int, ok bool) {
	if err := c.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if c.NArg() > 0 {
		fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", c.Name(), c.Arg(0))
		return 2, false
	}
	return 0, true
}

// check reports every non-nil error in errs, one per line after the command's
// name, as parse reports a usage error. When it returns false the command
// should exit with the code it gives (2). It refuses values that the packages
// below would otherwise replace silently (a zero TTL becoming 24 h).
func (c commandFlags) check(errs ...error) (exitCode int, ok bool) {
	ok = true
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", c.Name(), err)
			ok = false
		}
	}
	if !ok {
		return 2, false
	}
	return 0, true
}

// atLeast returns an error naming the flag and what it accepts (want) when
// its value v is below lowest.
func atLeast[T cmp.Ordered](name string, v, lowest T, want string) error {
	if v >= lowest {
		return nil
	}
	return fmt.Errorf("--%s %v: want %s", name, v, want)
}

// atMost returns an error naming the flag and what it accepts (want) when
// its value v is above highest.
func atMost[T cmp.Ordered](name string, v, highest T, want string) error {
	if v <= highest {
		return nil
	}
	return fmt.Errorf("--%s %v: want %s", name, v, want)
}

// oneOf returns an error naming the flag and its choices when v is none
// of them.
func oneOf(name, v string, choices ...string) error {
	if slices.Contains(choices, v) {
		return nil
	}
	return fmt.Errorf("--%s %q: want %s", name, v, strings.Join(choices, " or "))
}
