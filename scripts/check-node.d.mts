export declare const NEEDED: string;
export declare function isSupported(version: string): boolean;
export declare function unsupportedMessage(version: string, execPath: string): string;
