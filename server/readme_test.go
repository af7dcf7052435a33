package server_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/thaw-dev/thaw/server"
)

// readmeRow is one row of the README's "Supported RPCs" table.
type readmeRow struct {
	services []string
	methods  []string // nil means all methods
	works    bool
}

// readmeRPCRows parses the table under "### Supported RPCs" in the README.
func readmeRPCRows(t *testing.T) []readmeRow {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### Supported RPCs")
	if !ok {
		t.Fatal(`README.md has no "### Supported RPCs" section`)
	}
	var rows []readmeRow
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 3 || !strings.HasPrefix(cells[0], "`") {
			continue
		}
		row := readmeRow{works: strings.HasPrefix(cells[2], "works")}
		if !row.works && !strings.Contains(cells[2], "UNIMPLEMENTED") {
			t.Fatalf("README row %q: state must start with works or say UNIMPLEMENTED", line)
		}
		for _, svc := range strings.Split(cells[0], ", ") {
			row.services = append(row.services, strings.Trim(svc, "`"))
		}
		if cells[1] != "all" {
			row.methods = strings.Split(cells[1], ", ")
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		t.Fatal("README's Supported RPCs table has no rows")
	}
	return rows
}

// rowFor returns the README row that covers a method, if any.
func rowFor(rows []readmeRow, service, method string) (readmeRow, bool) {
	for _, r := range rows {
		for _, s := range r.services {
			if s == service && (r.methods == nil || containsString(r.methods, method)) {
				return r, true
			}
		}
	}
	return readmeRow{}, false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestReadmeSupportedRPCs keeps the README's table true: every method the
// server registers has a row, a row that says "works" is not answered with
// UNIMPLEMENTED, a row that says UNIMPLEMENTED is, and every method a row
// names as served is registered.
func TestReadmeSupportedRPCs(t *testing.T) {
	rows := readmeRPCRows(t)
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}})
	conn := dial(t, srv.Addr()).conn
	registered := srv.Services()
	for service, info := range registered {
		for _, m := range info.Methods {
			row, ok := rowFor(rows, service, m.Name)
			if !ok {
				t.Errorf("README's Supported RPCs table has no row for %s/%s", service, m.Name)
				continue
			}
			unimplemented := probeUnimplemented(t, conn, "/"+service+"/"+m.Name, m.IsClientStream || m.IsServerStream)
			if row.works == unimplemented {
				t.Errorf("README says %s/%s works=%v, but the server answers UNIMPLEMENTED=%v", service, m.Name, row.works, unimplemented)
			}
		}
	}
	for _, r := range rows {
		for _, service := range r.services {
			info, ok := registered[service]
			if r.works && !ok {
				t.Errorf("README says %s works, but the server does not register it", service)
			}
			for _, m := range r.methods {
				if ok && !containsMethod(info, m) {
					t.Errorf("README names %s/%s, which the server does not register", service, m)
				}
			}
		}
	}
}

func containsMethod(info grpc.ServiceInfo, name string) bool {
	for _, m := range info.Methods {
		if m.Name == name {
			return true
		}
	}
	return false
}

// probeUnimplemented calls a method with an empty request and reports
// whether it answered UNIMPLEMENTED. Any other outcome (an answer, a
// validation error, a stream that waits) means it is served.
func probeUnimplemented(t *testing.T, conn *grpc.ClientConn, fullMethod string, stream bool) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	if stream {
		var cs grpc.ClientStream
		cs, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, fullMethod)
		if err == nil {
			if err = cs.SendMsg(&emptypb.Empty{}); err == nil || errors.Is(err, io.EOF) {
				cs.CloseSend()
				err = cs.RecvMsg(&emptypb.Empty{})
			}
		}
	} else {
		err = conn.Invoke(ctx, fullMethod, &emptypb.Empty{}, &emptypb.Empty{})
	}
	return status.Code(err) == codes.Unimplemented
}
