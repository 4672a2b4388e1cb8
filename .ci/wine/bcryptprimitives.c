/*
 * bcryptprimitives.dll for Wine 8 (CI only, never shipped).
 *
 * Go 1.24 and later load ProcessPrng from bcryptprimitives.dll when a
 * Windows binary starts, and abort ("bcryptprimitives.dll not found") when
 * it is missing, as it is in Debian 12's Wine 8. Windows 10 and later have
 * the real DLL; this one exists only so that CI can run the Windows builds
 * of the tools under Wine. ProcessPrng fills the buffer from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine implements with the host's
 * system random source. Like the real ProcessPrng, it always returns TRUE:
 * Go treats any other value as fatal, so a failure aborts instead.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			ExitProcess(0xC0000001); /* never hand out an unfilled buffer */
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved)
{
	(void)dll; (void)reason; (void)reserved;
	return TRUE;
}
