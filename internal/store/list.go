package store

// ListStore holds the List operations of Collections.
type ListStore interface {
}
