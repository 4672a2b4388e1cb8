package main

import (
	"bytes"
	"testing"
)

// TestDemo runs the demo as `make demo` does: it fails if any narrated
// step does not behave as described.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
