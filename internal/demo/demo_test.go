package main

import "testing"

// TestDemo runs the demo as `make demo` does: it fails if any narrated
// step does not behave as described.
func TestDemo(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
