// Command execution-context is the seed's first experiment as a Go Lambda
// function built with aws-lambda-go: a goroutine counts the seconds of a
// one-second ticker while the handler reports that count next to the
// wall-clock seconds since the process started. Between invocations the
// execution environment is frozen, so the ticker falls far behind the clock.
//
// Build it as the bootstrap of a provided runtime and run it with
//
//	go build -o /tmp/ctx-go/bootstrap ./examples/execution-context/go
//	thaw lambda --function ctx-go --runtime provided --code /tmp/ctx-go
package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// elapsed is what each invocation returns: whole seconds since the execution
// environment started, by the wall clock and by the background ticker.
type elapsed struct {
	Calculated int64 `json:"calculated"`
	Background int64 `json:"background"`
}

var (
	// startTime is when this execution environment was initialised; it
	// persists across the invocations it serves.
	startTime = time.Now()
	// background counts ticks of a one-second ticker. It only advances
	// while the process has CPU, that is, during invocations.
	background atomic.Int64
)

func handle(context.Context, map[string]any) (elapsed, error) {
	e := elapsed{
		Calculated: int64(time.Since(startTime) / time.Second),
		Background: background.Load(),
	}
	fmt.Printf("Calculated: %d seconds, Background Task: %d seconds\n", e.Calculated, e.Background)
	return e, nil
}

func main() {
	go func() {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for range ticker.C {
			background.Add(1)
		}
	}()
	lambda.Start(handle)
}
