package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// byteSize is a flag holding a size in bytes, written as a plain number or
// with a unit: 512KiB, 64MiB, 1GiB (powers of 1024) or 5KB, 5MB, 1GB (powers of 1000).
type byteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// String writes the size with the largest unit that divides it exactly, so
// that defaults read as they were written: 1GiB, 5MB.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, suffix := range []string{"GiB", "GB", "MiB", "MB", "KiB", "KB"} {
		for _, u := range byteUnits {
			if u.suffix == suffix && n >= u.factor && n%u.factor == 0 {
				return strconv.FormatInt(n/u.factor, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(v string) error {
	v = strings.TrimSpace(v)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(v), strings.ToUpper(u.suffix)) {
			v, factor = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a size such as 1048576, 512KiB, 64MiB or 5MB, got %q", v)
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
