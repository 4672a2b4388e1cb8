// Command benchcmp measures airlock's tools as whole processes against
// GnuPG on the same machine, in the same run, and prints one table of
// ratios (make bench). Ratios, not absolute times: the machines this runs
// on are shared and noisy, and both sides of each ratio share the noise.
//
// It runs on Linux only: it reads peak memory and disk blocks the Linux way
// and drives the Debian builds of gpg and sq.
package main
