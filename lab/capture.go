package lab

import (
	"path/filepath"
	"strconv"
	"time"
)

// writeCapture writes the run's packet capture to path, once its timeline
// is complete. Each packet's comment says what the function was doing when
// the proxy delivered it, by the lab's own record of the invocations:
// "invocation <request id>" from the moment the lab sent the invocation to
// the moment its response came back, "frozen" otherwise. Comment-only
// records mark each freeze ("freeze", after every invocation), each thaw
// ("thaw <request id>") and each blackhole. These bounds are the caller's view: the emulator thaws
// the function just after the invocation is sent and freezes it just after
// the function has answered.
func (r *run) writeCapture(path string) error {
	tl := &r.timeline
	for i, inv := range tl.Invocations {
		if i > 0 { // the first starts the environment
			r.capture.Note(inv.Start, "thaw "+invocationName(inv))
		}
		r.capture.Note(inv.End, "freeze")
	}
	for _, m := range tl.Marks {
		if m.Kind == MarkBlackhole {
			r.capture.Note(m.Time, "blackhole: "+m.Detail)
		}
	}
	return r.capture.WriteFile(path, func(t time.Time) string { return activityAt(tl, t) })
}

// activityAt is what the function was doing at t: "invocation <request id>"
// during an invocation, "frozen" before, between and after them.
func activityAt(tl *Timeline, t time.Time) string {
	for _, inv := range tl.Invocations {
		if !t.Before(inv.Start) && !t.After(inv.End) {
			return "invocation " + invocationName(inv)
		}
	}
	return "frozen"
}

// invocationName is an invocation's request id, or its index (#N) if the
// emulator gave none, as when the invocation itself failed.
func invocationName(inv Invocation) string {
	if inv.RequestID != "" {
		return inv.RequestID
	}
	return "#" + strconv.Itoa(inv.Index)
}

// writeCaptureIn writes the run's packet capture, if it has one, to
// dir/NAME.pcapng and returns that path; "" if it has none.
func (r *run) writeCaptureIn(dir string) (string, error) {
	if r.capture == nil {
		return "", nil
	}
	path := filepath.Join(dir, r.spec.Name()+".pcapng")
	if err := r.writeCapture(path); err != nil {
		return "", err
	}
	return path, nil
}
