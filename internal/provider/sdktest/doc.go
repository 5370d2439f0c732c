// Package sdktest holds tests only: the official Google and OpenAI Go SDKs
// pointed at the fakes must get well-formed answers, which shows the fakes
// speak the real wire formats. The SDKs are imported from test files only,
// so they never enter the ludeng binary.
package sdktest
