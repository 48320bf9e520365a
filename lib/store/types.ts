// The volume-store interface behind the volume plugin. The file store
// implements it today; the SPDK lvol store will implement it too.
import type { ProbeResult, SrStat, Volume } from '../wire/schemas';

export type Configuration = Record<string, string>;

export interface VolumeStore {
  /** True when this store handles the given device-config. */
  accepts(configuration: Configuration): boolean;
  /** True when this store issued the given SR string. */
  owns(sr: string): boolean;

  probe(configuration: Configuration): ProbeResult[];
  create(uuid: string, configuration: Configuration, name: string, description: string): Configuration;
  attach(configuration: Configuration): string;
  detach(sr: string): void;
  destroy(sr: string): void;
  stat(sr: string): SrStat;
  setName(sr: string, name: string): void;
  setDescription(sr: string, description: string): void;
  ls(sr: string): Volume[];

  volumeCreate(sr: string, name: string, description: string, size: number, sharable: boolean): Volume;
  volumeSnapshot(sr: string, key: string): Volume;
  volumeClone(sr: string, key: string): Volume;
  volumeDestroy(sr: string, key: string): void;
  volumeStat(sr: string, key: string): Volume;
  volumeSetName(sr: string, key: string, name: string): void;
  volumeSetDescription(sr: string, key: string, description: string): void;
  volumeSet(sr: string, key: string, k: string, v: string): void;
  volumeUnset(sr: string, key: string, k: string): void;
  volumeResize(sr: string, key: string, newSize: number): void;
}
