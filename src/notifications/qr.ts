import QRCode from 'qrcode';

const OPTIONS = { errorCorrectionLevel: 'M' as const, margin: 2 };

export const qrPng = (text: string): Promise<Buffer> =>
  QRCode.toBuffer(text, { ...OPTIONS, type: 'png', width: 320 });

export const qrSvg = (text: string): Promise<string> => QRCode.toString(text, { ...OPTIONS, type: 'svg' });
