package data

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/airlock-license/airlock/format"
)

// The sample data stays usable: the keys parse, belong together, and the
// catalogue names valid features.
func TestSampleData(t *testing.T) {
	pub, err := os.ReadFile("sample-vendor.pub.asc")
	if err != nil {
		t.Fatal(err)
	}
	set, err := format.ParseKeySet(pub)
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := os.ReadFile("sample-vendor.sec.asc")
	k, err := format.ParsePrivateKey(sec, []byte("sample key - not for production"))
	if err != nil || set.Lookup(k.Fingerprint()) == nil {
		t.Fatalf("sample keys: %v", err)
	}
	var cat struct {
		Product  string `json:"product"`
		Editions []struct {
			Features []string `json:"features"`
			Clients  int      `json:"clients"`
		} `json:"editions"`
	}
	b, _ := os.ReadFile("catalogue.json")
	if err := json.Unmarshal(b, &cat); err != nil || !format.ValidProduct(cat.Product) || len(cat.Editions) == 0 {
		t.Fatalf("catalogue: %v", err)
	}
	for _, e := range cat.Editions {
		for _, f := range e.Features {
			if !format.ValidFeature(f) {
				t.Errorf("feature %q", f)
			}
		}
	}
}

// The sample product's activator embeds the sample key.
func TestSampleActivatorKey(t *testing.T) {
	a, _ := os.ReadFile("sample-vendor.pub.asc")
	b, err := os.ReadFile("../activator/vendor.asc")
	if err != nil || string(a) != string(b) {
		t.Fatalf("samples/activator/vendor.asc differs from sample-vendor.pub.asc (run make sample-data): %v", err)
	}
}
