// Command testextension is an external Lambda extension used by the
// emulator's tests. It registers for INVOKE and SHUTDOWN, appends one JSON
// line per event it receives (with its pid) to the file named by
// $THAW_TEST_EXTENSION_LOG, works for $THAW_TEST_EXTENSION_DELAY_MS after
// each INVOKE before asking for the next event, and exits on SHUTDOWN. With
// $THAW_TEST_EXTENSION_TELEMETRY_LOG set it also subscribes to the Telemetry
// API (platform and function) and appends every event it receives there;
// with $THAW_TEST_EXTENSION_TELEMETRY_STALL also set, it never answers the
// first delivery holding function output and records
// {"type":"test.deliveryAbandoned","record":[the batch]} when thaw gives up
// on it.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testextension:", err)
		os.Exit(1)
	}
}

func run() error {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	delay, _ := strconv.Atoi(os.Getenv("THAW_TEST_EXTENSION_DELAY_MS"))
	logFile, err := os.OpenFile(os.Getenv("THAW_TEST_EXTENSION_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()

	req, _ := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if resp.StatusCode != http.StatusOK || id == "" {
		return fmt.Errorf("register = %d %s", resp.StatusCode, body)
	}
	record(logFile, map[string]any{"eventType": "REGISTERED", "response": json.RawMessage(body)})
	if path := os.Getenv("THAW_TEST_EXTENSION_TELEMETRY_LOG"); path != "" {
		if err := subscribe(id, path); err != nil {
			return err
		}
	}

	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("next: %w", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var event map[string]any
		if err := json.Unmarshal(body, &event); err != nil {
			return fmt.Errorf("next = %d %q: %w", resp.StatusCode, body, err)
		}
		record(logFile, event)
		switch event["eventType"] {
		case "INVOKE":
			fmt.Println("testextension: INVOKE", event["requestId"])
			time.Sleep(time.Duration(delay) * time.Millisecond)
		case "SHUTDOWN":
			fmt.Println("testextension: SHUTDOWN", event["shutdownReason"])
			return nil
		}
	}
}

// record appends event, with this process's pid, as one JSON line.
func record(w io.Writer, event map[string]any) {
	event["pid"] = os.Getpid()
	line, _ := json.Marshal(event)
	w.Write(append(line, '\n'))
}

// subscribe starts a listener for telemetry, appending each event it gets to
// path, and subscribes it.
func subscribe(id, path string) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open telemetry log: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("telemetry listener: %w", err)
	}
	var stalled sync.Once
	go http.Serve(lis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if os.Getenv("THAW_TEST_EXTENSION_TELEMETRY_STALL") != "" && bytes.Contains(body, []byte(`"type":"function"`)) {
			// The first delivery of function output never gets an
			// answer: thaw must give up on it, which this records as a
			// pseudo-event holding the abandoned batch.
			first := false
			stalled.Do(func() { first = true })
			if first {
				<-r.Context().Done()
				out.Write([]byte(`{"type":"test.deliveryAbandoned","record":` + string(bytes.TrimSpace(body)) + "}\n"))
				return
			}
		}
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, event := range batch {
			out.Write(append(event, '\n'))
		}
	}))
	port := lis.Addr().(*net.TCPAddr).Port
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d/telemetry"},"types":["platform","function"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}}`, port)
	req, _ := http.NewRequest(http.MethodPut, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2022-07-01/telemetry", strings.NewReader(body))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscribe = %d %s", resp.StatusCode, answer)
	}
	return nil
}
