/**
 * What a customer sees when Paylinks cannot serve their page (its database or workflow service
 * is down): a page in their language that says to try again shortly, never a JSON error. The
 * link itself cannot be read then, so the language comes from the browser's Accept-Language.
 */
import { escapeHtml as e } from '../notifications/messages';
import { page } from './link-page';

interface Wording {
  title: string;
  heading: string;
  /** The service is down for a moment: nothing was lost, try again. */
  unavailable: string;
  /** Anything else that went wrong on our side. */
  failed: string;
  retry: string;
}

const WORDING: Record<string, Wording> = {
  en: {
    title: 'Temporarily unavailable',
    heading: 'This page is temporarily unavailable',
    unavailable:
      'We could not load this page right now. Nothing has been charged. Please try again in a moment.',
    failed: 'Something went wrong on our side. Nothing has been charged. Please try again in a moment.',
    retry: 'Try again',
  },
  fr: {
    title: 'Momentanément indisponible',
    heading: 'Cette page est momentanément indisponible',
    unavailable:
      "Nous n'avons pas pu charger cette page pour l'instant. Aucun montant n'a été débité. Veuillez réessayer dans un instant.",
    failed:
      "Une erreur s'est produite de notre côté. Aucun montant n'a été débité. Veuillez réessayer dans un instant.",
    retry: 'Réessayer',
  },
  de: {
    title: 'Vorübergehend nicht verfügbar',
    heading: 'Diese Seite ist vorübergehend nicht verfügbar',
    unavailable:
      'Wir konnten diese Seite gerade nicht laden. Es wurde nichts abgebucht. Bitte versuchen Sie es gleich noch einmal.',
    failed:
      'Bei uns ist ein Fehler aufgetreten. Es wurde nichts abgebucht. Bitte versuchen Sie es gleich noch einmal.',
    retry: 'Erneut versuchen',
  },
  es: {
    title: 'No disponible temporalmente',
    heading: 'Esta página no está disponible temporalmente',
    unavailable:
      'No hemos podido cargar esta página en este momento. No se ha realizado ningún cargo. Inténtelo de nuevo en unos instantes.',
    failed:
      'Se ha producido un error por nuestra parte. No se ha realizado ningún cargo. Inténtelo de nuevo en unos instantes.',
    retry: 'Reintentar',
  },
  it: {
    title: 'Temporaneamente non disponibile',
    heading: 'Questa pagina è temporaneamente non disponibile',
    unavailable:
      'Non è stato possibile caricare questa pagina. Non è stato addebitato nulla. Riprova tra qualche istante.',
    failed:
      'Si è verificato un errore da parte nostra. Non è stato addebitato nulla. Riprova tra qualche istante.',
    retry: 'Riprova',
  },
  nl: {
    title: 'Tijdelijk niet beschikbaar',
    heading: 'Deze pagina is tijdelijk niet beschikbaar',
    unavailable:
      'We konden deze pagina nu niet laden. Er is niets afgeschreven. Probeer het over een ogenblik opnieuw.',
    failed: 'Er ging bij ons iets mis. Er is niets afgeschreven. Probeer het over een ogenblik opnieuw.',
    retry: 'Opnieuw proberen',
  },
  pt: {
    title: 'Temporariamente indisponível',
    heading: 'Esta página está temporariamente indisponível',
    unavailable:
      'Não foi possível carregar esta página agora. Nada foi cobrado. Tente novamente dentro de instantes.',
    failed: 'Ocorreu um erro da nossa parte. Nada foi cobrado. Tente novamente dentro de instantes.',
    retry: 'Tentar novamente',
  },
};

/** The languages the page is written in, English first (the fallback). */
export const UNAVAILABLE_PAGE_LANGUAGES = Object.keys(WORDING);

/**
 * The page for `language` (a primary subtag such as `fr`; anything else is English).
 * `retryPath` is where "Try again" goes: the page the customer asked for, when it was a GET.
 */
export function renderUnavailablePage(
  language: string,
  kind: 'unavailable' | 'failed',
  retryPath?: string,
): string {
  const lang = WORDING[language] ? language : 'en';
  const w = WORDING[lang] as Wording;
  const retry = retryPath ? `<p><a href="${e(retryPath)}">${e(w.retry)}</a></p>` : '';
  return page(
    w.title,
    `<section><h1>${e(w.heading)}</h1><p role="alert">${e(w[kind])}</p>${retry}</section>`,
    lang,
  );
}
