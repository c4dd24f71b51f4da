// Package antientropy will compare replicas of each key range with Merkle
// trees and repair only the keys that differ. The engine's key layout
// already serves it: data keys are ordered by the 64-bit token of the user
// key, so one token range of the ring is one contiguous scan
// (engine.Engine.Scan), and every record carries the version, expiry and
// tombstone flag a tree leaf hashes.
package antientropy
