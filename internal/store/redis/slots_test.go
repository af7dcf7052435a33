package redis

import (
	"slices"
	"strconv"
	"testing"
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
