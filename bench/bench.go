package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrAllFailed says every request of a load run failed: the result is
// printed, but the run measured nothing.
var ErrAllFailed = errors.New("bench: every request failed")

// Run measures cfg.Endpoint as cfg says: a load run, or an idle run when
// cfg.IdleConnections is set. Progress goes to stderr; the result goes to
// stdout as a table, or, with cfg.JSON, as one JSON object on the last line
// of stdout with the table on stderr; cfg.HTMLFile receives the HTML page.
// A Config that Validate refuses returns an error wrapping ErrUsage. When
// ctx ends during the run, the result so far is still written.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	table := stdout
	if cfg.JSON {
		table = stderr
	}
	if cfg.Idle() {
		res, err := RunIdle(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		writeIdleTable(table, res)
		if cfg.JSON {
			return writeJSON(stdout, res)
		}
		return nil
	}
	res, err := RunLoad(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	writeLoadTable(table, res)
	if cfg.HTMLFile != "" {
		if err := WriteHTMLFile(cfg.HTMLFile, res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", cfg.HTMLFile)
	}
	if cfg.JSON {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	}
	if res.Ops == 0 && res.Errors > 0 {
		return fmt.Errorf("%w (%d errors)", ErrAllFailed, res.Errors)
	}
	return nil
}
