// The architectures a release is built for, under each naming scheme that meets them:
// Node.js and the registry (x64, arm64), Debian (amd64, arm64), the kernel (uname -m),
// classic-level's prebuilds (linux-x64, linux-arm64) and file(1).
export const ARCHES = {
  x64: { debian: 'amd64', uname: 'x86_64', prebuilds: 'linux-x64', fileType: /ELF 64-bit LSB .*x86-64/ },
  arm64: { debian: 'arm64', uname: 'aarch64', prebuilds: 'linux-arm64', fileType: /ELF 64-bit LSB .*ARM aarch64/ },
} as const;

export type Arch = keyof typeof ARCHES;

export function parseArch(value: string): Arch {
  if (value in ARCHES) return value as Arch;
  throw new Error(`unknown architecture "${value}": use one of ${Object.keys(ARCHES).join(', ')}`);
}
