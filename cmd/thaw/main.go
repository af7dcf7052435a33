// Command thaw is the thaw toolkit: a Momento-compatible cache server and,
// in later subcommands, a freezing Lambda emulator and the keepalive lab.
package main

import (
	"fmt"
	"io"
	"os"
)

// subcommand is one verb of the thaw command line.
type subcommand struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func subcommands() []subcommand {
	return []subcommand{
		{"serve", "run a cache server that speaks the Momento gRPC protocol", runServe},
		{"lambda", "run Lambda functions locally, frozen between invocations as on AWS", runLambda},
		{"token", "create API keys for a server started with --auth-secret-file", runToken},
		{"lab", "reproduce keepalive failures in frozen functions and compare client presets", runLab},
		{"bench", "measure a Momento-compatible endpoint: throughput, latency, idle connections", runBench},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "thaw: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "thaw: build, test and understand network clients that run in serverless environments.")
	fmt.Fprintln(w, "\nUsage: thaw <command> [flags]\n\nCommands:")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'thaw <command> --help' for the flags of a command.")
}
