package redis

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// TestSlotsAsTheClientComputesThem checks crc16 against the client's own
// routing, for plain keys and hash tags.
func TestSlotsAsTheClientComputesThem(t *testing.T) {
	b := openStore(t, Config{}).client.B()
	for _, key := range []string{"", "a", "123456789", "thaw:{5:cache:1:kx}", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{" + slotTag(16383) + "}"} {
		cmd := b.Get().Key(key).Build()
		want := cmd.Slot()
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d (the client's)", key, got, want)
		}
	}
	if got := crc16("123456789"); got != 0x31c3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3 (CRC-16/XMODEM's check value)", got)
	}
}

// TestSlotTagCoversEverySlot: the decimal numbers below 2^20 reach every
// slot, so slotTag's search ends; and slotTag's answer is in its slot.
func TestSlotTagCoversEverySlot(t *testing.T) {
	seen := make([]bool, slotCount)
	left := slotCount
	for i := 0; i < 1<<20 && left > 0; i++ {
		if slot := crc16(strconv.Itoa(i)) % slotCount; !seen[slot] {
			seen[slot] = true
			left--
		}
	}
	if left > 0 {
		t.Fatalf("%d slots have no decimal tag below 2^20", left)
	}
	for _, slot := range []uint16{0, 1, 5460, 5461, 10922, 10923, 16383} {
		if got := crc16(slotTag(slot)) % slotCount; got != slot {
			t.Errorf("slot of slotTag(%d) = %q is %d", slot, slotTag(slot), got)
		}
	}
}

// TestMastersAreTheSlotOwners: masters, from CLUSTER SLOTS, are exactly the
// nodes that answer ROLE as masters, and the owners cover every slot.
func TestMastersAreTheSlotOwners(t *testing.T) {
	s := openStore(t, Config{})
	ctx := t.Context()
	masters, err := s.masters(ctx)
	if err != nil {
		t.Fatalf("masters() = %v", err)
	}
	var want []string
	for addr, node := range s.client.Nodes() {
		role, err := node.Do(ctx, node.B().Role().Build()).ToArray()
		if err != nil {
			t.Fatalf("ROLE of %s: %v", addr, err)
		}
		if r, _ := role[0].ToString(); r == "master" {
			want = append(want, addr)
		}
	}
	var got []string
	for addr := range masters {
		got = append(got, addr)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("masters() = %q, want the nodes whose ROLE is master, %q", got, want)
	}
}

// TestAgreeOnSlotOwners: the map is taken only when every node that
// answered gave the same full map and every master in it answered; the
// errors wrap store.ErrUnavailable and name the node that stood out.
func TestAgreeOnSlotOwners(t *testing.T) {
	three := []slotOwner{{0, 5460, "a:1"}, {5461, 10922, "b:1"}, {10923, 16383, "c:1"}}
	failedOver := []slotOwner{{0, 5460, "a:1"}, {5461, 10922, "b:1"}, {10923, 16383, "f:1"}} // c's replica f took over
	silent := errors.New("no answer in time")
	partial := errors.New("slot 10923 is not served")
	tests := []struct {
		name    string
		answers []slotsAnswer
		want    []slotOwner
		errHas  string // "" for success
	}{
		{name: "all agree", want: three, answers: []slotsAnswer{
			{addr: "a:1", owners: three}, {addr: "b:1", owners: three}, {addr: "c:1", owners: three}, {addr: "f:1", owners: three}}},
		{name: "a silent replica is left out", want: three, answers: []slotsAnswer{
			{addr: "a:1", owners: three}, {addr: "b:1", owners: three}, {addr: "c:1", owners: three}, {addr: "f:1", silent: silent}}},
		{name: "a silent old master after a failover is left out", want: failedOver, answers: []slotsAnswer{
			{addr: "a:1", owners: failedOver}, {addr: "b:1", owners: failedOver}, {addr: "c:1", silent: silent}, {addr: "f:1", owners: failedOver}}},
		{name: "a resumed master with its old map", errHas: "disagree", answers: []slotsAnswer{
			{addr: "a:1", owners: failedOver}, {addr: "b:1", owners: failedOver}, {addr: "c:1", owners: three}, {addr: "f:1", owners: failedOver}}},
		{name: "a silent master", errHas: "master c:1 of slots 10923-16383 did not answer", answers: []slotsAnswer{
			{addr: "a:1", owners: three}, {addr: "b:1", owners: three}, {addr: "c:1", silent: silent}, {addr: "f:1", owners: three}}},
		{name: "a node that sees a slot unserved", errHas: "node b:1 has no full slot map", answers: []slotsAnswer{
			{addr: "a:1", owners: three}, {addr: "b:1", err: partial}, {addr: "c:1", owners: three}}},
		{name: "nobody answers", errHas: "no node answered CLUSTER SLOTS: no answer in time", answers: []slotsAnswer{
			{addr: "a:1", silent: silent}, {addr: "b:1", silent: silent}}},
		{name: "no node", errHas: "no node connected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := agreeOnSlotOwners(tc.answers)
			if tc.errHas == "" {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("agreeOnSlotOwners = %v, %v; want %v, nil", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("agreeOnSlotOwners = %v, %v; want an error wrapping store.ErrUnavailable that says %q", got, err, tc.errHas)
			}
		})
	}
}
