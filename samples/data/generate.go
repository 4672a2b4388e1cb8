//go:build ignore

// Generate writes the sample data of the walkthrough (make sample-data):
// a sample vendor key pair, clearly marked as not for production, and the
// catalogue of the reference product. Run from the repository root:
//
//	go run ./samples/data/generate.go
package main

import (
	"bytes"
	"encoding/json"
	"log"
	"os"
	"time"

	"github.com/airlock-license/airlock/format"
)

// SamplePassphrase protects the sample key. It is published: the key is
// for trying airlock out, never for licensing anything.
const SamplePassphrase = "sample key - not for production"

// edition is one way the reference product is sold.
type edition struct {
	Name     string   `json:"name"`
	Features []string `json:"features"`
	Clients  int      `json:"clients"`
}

func main() {
	k, err := format.GenerateKey(format.KeyOptions{
		Name:  "airlock SAMPLE vendor - NOT FOR PRODUCTION",
		Email: "sample@airlock.invalid",
		Now:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	sec, err := k.MarshalArmored([]byte(SamplePassphrase))
	if err != nil {
		log.Fatal(err)
	}
	warn := "# SAMPLE KEY - NOT FOR PRODUCTION. Its passphrase is published in samples/data/README.md.\n"
	write("samples/data/sample-vendor.sec.asc", append([]byte(warn), sec...))
	write("samples/data/sample-vendor.pub.asc", append([]byte(warn), k.Public().Armor()...))
	// The sample product's own activator compiles the same key in.
	write("samples/activator/vendor.asc", append([]byte(warn), k.Public().Armor()...))

	cat := map[string]any{
		"product":  "astera",
		"versions": []int{9},
		"features": map[string]string{
			"dataflow": "move and transform data between sources",
			"workflow": "schedule and orchestrate dataflows",
			"subflow":  "reusable flows inside flows",
		},
		"editions": []edition{
			{Name: "standard", Features: []string{"dataflow", "workflow"}, Clients: 2},
			{Name: "enterprise", Features: []string{"dataflow", "subflow", "workflow"}, Clients: 5},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.Encode(cat)
	write("samples/data/catalogue.json", b.Bytes())
}

func write(path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
