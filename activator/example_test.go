package activator_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
)

// vendorKeys stands for the vendor public key compiled into a product; in
// a product: keys, err := format.ParseKeySet(embeddedVendorKey).
func vendorKeys() (*format.PrivateKey, *format.KeySet) {
	b, _ := os.ReadFile(filepath.Join("..", "format", "testdata", "keys", "vendor.sec.asc")) // TEST ONLY key
	k, _ := format.ParsePrivateKey(b, nil)
	return k, format.NewKeySet(k.Public())
}

// A licensed product opens its licence once at start-up and asks it
// whether a feature is enabled wherever it matters.
func ExampleOpen() {
	_, keys := vendorKeys()
	dir, _ := os.MkdirTemp("", "airlock-example")
	defer os.RemoveAll(dir)

	lic, err := activator.Open(activator.Config{Dir: dir, VendorKeys: keys, Product: "astera", Version: "9.1.0"})
	if err != nil {
		fmt.Println(err) // only a wrong Config fails
		return
	}
	defer lic.Close()
	lic.OnChange(func(old, new *activator.Snapshot) {
		// Disconnect every client here so that the new licence applies.
	})
	fmt.Println(lic.Snapshot().State, lic.Enabled("workflow"))
	// Output: inactive false
}

// The whole host side in one place: request, the vendor's answer (played
// here with package format), import, and the running product's view.
func ExampleLicense_Enabled() {
	vendor, keys := vendorKeys()
	dir, _ := os.MkdirTemp("", "airlock-example")
	defer os.RemoveAll(dir)
	cfg := activator.Config{Dir: filepath.Join(dir, "store"), VendorKeys: keys, Product: "astera", Version: "9.1.0", PollInterval: 50 * time.Millisecond}

	lic, _ := activator.Open(cfg)
	defer lic.Close()
	changed := make(chan struct{}, 1)
	lic.OnChange(func(old, new *activator.Snapshot) { changed <- struct{}{} })

	// What `activator request` and `activator import` do.
	s, err := activator.OpenStore(cfg, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	req, err := s.Request(activator.RequestOptions{Name: "Ada Admin", Organization: "Example Bank", ProductKey: "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := s.Import(answer(vendor, req.Binary), activator.ImportOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	s.Close()

	<-changed // the product notices within PollInterval
	fmt.Println(lic.Enabled("workflow"), lic.Enabled("subflow"))
	// Output: true false
}

// Seats enforce the licensed number of clients.
func ExampleSeats_Acquire() {
	_, keys := vendorKeys()
	dir, _ := os.MkdirTemp("", "airlock-example")
	defer os.RemoveAll(dir)
	lic, _ := activator.Open(activator.Config{Dir: dir, VendorKeys: keys, Product: "astera", Version: "9.1.0"})
	defer lic.Close()

	seat, err := lic.Seats().Acquire("client-1")
	switch {
	case errors.Is(err, activator.ErrSeatLimit):
		fmt.Println("refuse the connection: all seats taken")
	case errors.Is(err, activator.ErrNotActive):
		fmt.Println("refuse the connection: no licence")
	case err == nil:
		defer seat.Release() // when the client disconnects
		fmt.Println("connected")
	}
	// Output: refuse the connection: no licence
}

// answer plays the licence desk.
func answer(vendor *format.PrivateKey, request []byte) []byte {
	now := time.Now()
	a, r, _ := format.VerifyRequest(request, now)
	id, _ := format.NewID(rand.Reader)
	fp := r.Fingerprint
	fp.Threshold = format.DefaultThreshold(len(fp.Components))
	msg, _ := format.Sign(vendor, &format.Response{
		LicenseID: id, RequestID: r.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(now),
		Product: r.Product, Versions: []int{9}, Licensee: r.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(),
		Fingerprint: fp, Features: []string{"dataflow", "workflow"}, Limits: format.Limits{Clients: 2},
	}, now)
	return msg
}
