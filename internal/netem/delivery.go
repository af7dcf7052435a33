package netem

import "time"

// Direction is the way bytes travel through a proxied connection.
type Direction uint8

// The two directions of a proxied connection.
const (
	// ToTarget carries what the accepted client sends to the target.
	ToTarget Direction = iota + 1
	// ToClient carries what the target sends back to the client.
	ToClient
)

// String returns "to target" or "to client".
func (d Direction) String() string {
	switch d {
	case ToTarget:
		return "to target"
	case ToClient:
		return "to client"
	default:
		return "unknown direction"
	}
}

// Delivery reports bytes, or a FIN, that the proxy handed to one side of a
// connection once their delay and any pause were over: the moment they pass
// on the network the proxy emulates. Bytes a blackhole discards are never
// delivered, so never reported.
type Delivery struct {
	// Time is when the proxy began handing the bytes over, after their
	// delay. Deliveries of one direction are reported in order; a reply's
	// delivery always has a later Time than the request it answers.
	Time time.Time
	// Conn is the connection the bytes belong to.
	Conn ConnID
	// Dir is the way they went.
	Dir Direction
	// Data is one read's worth of bytes from the sender. It is only valid
	// during the call: copy it to keep it. Empty when FIN is set.
	Data []byte
	// FIN reports that the sender's FIN was forwarded after its last byte.
	FIN bool
}
