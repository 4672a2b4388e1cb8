//go:build tools

// Package tools pins, in go.mod, the design's dependencies that no package
// imports yet (the host store, the QR writer and the command-line front
// ends land with the activator and issuer). The build tag keeps it out of
// every build; go mod tidy still sees the imports.
package tools

import (
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/skip2/go-qrcode"
	_ "github.com/urfave/cli/v2"
)
