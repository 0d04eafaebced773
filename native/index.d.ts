// Raw binding of the addon. Application code uses the typed wrapper in src/native/Native.ts instead.
export interface InterfaceFacts {
  readonly index: number
  readonly mac: Buffer
  readonly hardwareType: number
  readonly flags: number
  readonly mtu: number
}
export declare class PacketReader {
  constructor(fd: number, callback: (frames: ReadonlyArray<Buffer>, types: ReadonlyArray<number>) => void)
  close(): void
  setArpAnswers(mac: Buffer, ips: Buffer): void
  arpStats(): { threads: number; answeredByThreads: number; droppedByThreads: number }
}
declare const binding: {
  interfaceInfo(name: string): InterfaceFacts
  openPacket(ifname: string, ethertype: number, filter: ReadonlyArray<number> | null): { fd: number; index: number }
  addPacketMembership(fd: number, ifindex: number, mac: Buffer, add?: boolean): void
  sendFrame(fd: number, frame: Uint8Array): number
  closeFd(fd: number): void
  PacketReader: typeof PacketReader
  tcpSocket(family: 4 | 6): number
  bindAddress(fd: number, address: string, port: number): void
  setTcpMd5(fd: number, peerAddress: string, key: Buffer, prefixLength?: number): void
  setSockOptInt(fd: number, level: number, name: number, value: number): void
  getSockOptInt(fd: number, level: number, name: number): number
  constants: Record<string, number>
}
export default binding
