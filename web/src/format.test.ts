import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount } from './format';

describe('formatBytes', () => {
  it('uses binary units with one decimal', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(87085)).toBe('85.0 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});

describe('formatCount', () => {
  it('separates thousands whatever the locale', () => {
    expect(formatCount(16044)).toBe('16,044');
  });
});
