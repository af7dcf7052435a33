// Command noop is a Lambda function built with aws-lambda-go that does
// nothing: it returns null without reading its event or writing a log line,
// so a benchmark of it measures the emulator's round trip and nothing else.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context) error { return nil }

func main() {
	lambda.Start(handle)
}
