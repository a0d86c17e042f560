"""Closing messages in French, Spanish, Italian, Dutch, Portuguese and Polish.

Revision ID: 20261206_0018
Revises: 20261206_0017
Create Date: 2026-12-06

The closing message's templates are rows (recovery_message_templates), shipped in English and
German so far; a customer in one of the other supported languages got the English one. These are
the same four outcomes in each of them, in the register the survey texts use. A template an
operator already saved for one of these locales is kept (ON CONFLICT DO NOTHING), and the
downgrade removes only the rows nobody has edited since.

The SMS texts are written in GSM-7 (Polish, Spanish and Portuguese without the accents GSM-7
lacks), so that a closing SMS costs what the English one does.
"""

from alembic import op

revision = "20261206_0018"
down_revision = "20261206_0017"
branch_labels = None
depends_on = None

UPGRADE = r"""
INSERT INTO recovery_message_templates (outcome, locale, subject, greeting, body, sms) VALUES
('recovered', 'fr', 'Merci pour notre échange', 'Bonjour {name},',
 E'Merci d’avoir pris le temps d’échanger avec nous sur votre expérience. Nous sommes heureux d’avoir pu arranger les choses, et nous avons transmis vos remarques pour que cela ne se reproduise pas.\n\nCordialement,\n{agent}',
 '{brand}: Merci pour notre échange. Nous sommes heureux d''avoir pu arranger les choses. - {agent}'),
('not_recovered', 'fr', 'Merci pour votre avis', 'Bonjour {name},',
 E'Merci d’avoir échangé avec nous sur votre expérience. Nous regrettons de ne pas avoir pu tout résoudre à votre satisfaction. Vos remarques ont été transmises à l’équipe concernée, afin que nous fassions mieux.\n\nCordialement,\n{agent}',
 '{brand}: Merci pour notre échange. Nous regrettons de ne pas avoir pu tout résoudre ; vos remarques ont été transmises à l''équipe. - {agent}'),
('unreachable', 'fr', 'Nous avons essayé de vous joindre', 'Bonjour {name},',
 E'Nous avons essayé de vous joindre au sujet de l’avis que vous nous avez donné récemment, sans succès. Nous sommes désolés de votre expérience, et nous avons transmis vos remarques afin de faire mieux.\n\nCordialement,\n{agent}',
 '{brand}: Nous avons essayé de vous joindre au sujet de votre avis. Nous sommes désolés de votre expérience et l''avons transmis. - {agent}'),
('no_action_needed', 'fr', 'Merci pour votre avis', 'Bonjour {name},',
 E'Merci pour votre avis récent. Nous l’avons lu attentivement et l’avons transmis à l’équipe.\n\nCordialement,\n{agent}',
 '{brand}: Merci pour votre avis récent. Nous l''avons lu et transmis à l''équipe. - {agent}'),

('recovered', 'es', 'Gracias por hablar con nosotros', 'Hola {name}:',
 E'Gracias por dedicar su tiempo a hablar con nosotros sobre su experiencia. Nos alegra haber podido solucionarlo, y hemos transmitido sus comentarios para que no vuelva a ocurrir.\n\nUn saludo,\n{agent}',
 '{brand}: Gracias por hablar con nosotros. Nos alegra haber podido solucionarlo. - {agent}'),
('not_recovered', 'es', 'Gracias por su opinión', 'Hola {name}:',
 E'Gracias por hablar con nosotros sobre su experiencia. Lamentamos no haber podido resolverlo todo a su entera satisfacción. Sus comentarios han llegado al equipo responsable para que podamos mejorar.\n\nUn saludo,\n{agent}',
 '{brand}: Gracias por hablar con nosotros. Lamentamos no haberlo resuelto todo; sus comentarios han llegado al equipo. - {agent}'),
('unreachable', 'es', 'Hemos intentado contactar con usted', 'Hola {name}:',
 E'Hemos intentado contactar con usted por la opinión que nos dio hace poco, pero no ha sido posible. Lamentamos su experiencia, y hemos transmitido sus comentarios para mejorar.\n\nUn saludo,\n{agent}',
 '{brand}: Hemos intentado contactar con usted por su opinion. Lamentamos su experiencia y la hemos transmitido. - {agent}'),
('no_action_needed', 'es', 'Gracias por su opinión', 'Hola {name}:',
 E'Gracias por su opinión. La hemos leído con atención y la hemos transmitido al equipo.\n\nUn saludo,\n{agent}',
 '{brand}: Gracias por su opinion. La hemos leido y transmitido al equipo. - {agent}'),

('recovered', 'it', 'Grazie per il colloquio', 'Buongiorno {name},',
 E'grazie per aver dedicato del tempo a parlarci della Sua esperienza. Siamo lieti di aver potuto rimediare, e abbiamo trasmesso le Sue osservazioni perché non accada di nuovo.\n\nCordiali saluti,\n{agent}',
 '{brand}: Grazie per il colloquio. Siamo lieti di aver potuto rimediare. - {agent}'),
('not_recovered', 'it', 'Grazie per la Sua opinione', 'Buongiorno {name},',
 E'grazie per averci parlato della Sua esperienza. Ci dispiace non essere riusciti a risolvere tutto come avrebbe voluto. Le Sue osservazioni sono state trasmesse al team responsabile, per migliorare.\n\nCordiali saluti,\n{agent}',
 '{brand}: Grazie per il colloquio. Ci dispiace non aver risolto tutto; le Sue osservazioni sono arrivate al team. - {agent}'),
('unreachable', 'it', 'Abbiamo provato a contattarLa', 'Buongiorno {name},',
 E'abbiamo provato a contattarLa riguardo all’opinione che ci ha dato di recente, senza riuscirci. Ci dispiace per la Sua esperienza, e abbiamo trasmesso le Sue osservazioni per migliorare.\n\nCordiali saluti,\n{agent}',
 '{brand}: Abbiamo provato a contattarLa riguardo alla Sua opinione. Ci dispiace per la Sua esperienza e l''abbiamo segnalata. - {agent}'),
('no_action_needed', 'it', 'Grazie per la Sua opinione', 'Buongiorno {name},',
 E'grazie per la Sua recente opinione. L’abbiamo letta con attenzione e trasmessa al team.\n\nCordiali saluti,\n{agent}',
 '{brand}: Grazie per la Sua opinione. L''abbiamo letta e trasmessa al team. - {agent}'),

('recovered', 'nl', 'Bedankt voor het gesprek', 'Goedendag {name},',
 E'Bedankt dat u de tijd nam om met ons over uw ervaring te praten. We zijn blij dat we het hebben kunnen oplossen, en we hebben uw opmerkingen doorgegeven zodat het niet opnieuw gebeurt.\n\nMet vriendelijke groet,\n{agent}',
 '{brand}: Bedankt voor het gesprek. Fijn dat we het hebben kunnen oplossen. - {agent}'),
('not_recovered', 'nl', 'Bedankt voor uw feedback', 'Goedendag {name},',
 E'Bedankt voor het gesprek over uw ervaring. Het spijt ons dat we niet alles naar uw tevredenheid konden oplossen. Uw opmerkingen zijn naar het verantwoordelijke team gegaan, zodat we het beter doen.\n\nMet vriendelijke groet,\n{agent}',
 '{brand}: Bedankt voor het gesprek. Helaas konden we niet alles oplossen; uw opmerkingen zijn doorgegeven aan het team. - {agent}'),
('unreachable', 'nl', 'We hebben geprobeerd u te bereiken', 'Goedendag {name},',
 E'We hebben geprobeerd u te bereiken over de feedback die u ons onlangs gaf, maar dat is niet gelukt. Het spijt ons dat u een slechte ervaring had, en we hebben uw opmerkingen doorgegeven zodat we het beter doen.\n\nMet vriendelijke groet,\n{agent}',
 '{brand}: We hebben geprobeerd u te bereiken over uw feedback. Het spijt ons; we hebben uw opmerkingen doorgegeven. - {agent}'),
('no_action_needed', 'nl', 'Bedankt voor uw feedback', 'Goedendag {name},',
 E'Bedankt voor uw recente feedback. We hebben die zorgvuldig gelezen en doorgegeven aan het team.\n\nMet vriendelijke groet,\n{agent}',
 '{brand}: Bedankt voor uw feedback. We hebben die gelezen en doorgegeven aan het team. - {agent}'),

('recovered', 'pt', 'Obrigado pela conversa', 'Olá {name},',
 E'Obrigado por dedicar seu tempo para conversar conosco sobre a sua experiência. Ficamos felizes em ter resolvido a situação, e repassamos seus comentários para que isso não se repita.\n\nAtenciosamente,\n{agent}',
 '{brand}: Obrigado pela conversa. Ficamos felizes em ter resolvido a situacao. - {agent}'),
('not_recovered', 'pt', 'Obrigado pela sua opinião', 'Olá {name},',
 E'Obrigado por conversar conosco sobre a sua experiência. Lamentamos não ter conseguido resolver tudo como você esperava. Seus comentários foram encaminhados à equipe responsável, para que possamos melhorar.\n\nAtenciosamente,\n{agent}',
 '{brand}: Obrigado pela conversa. Lamentamos nao ter resolvido tudo; seus comentarios foram encaminhados a equipe. - {agent}'),
('unreachable', 'pt', 'Tentamos falar com você', 'Olá {name},',
 E'Tentamos falar com você sobre a opinião que nos deu recentemente, mas não conseguimos. Lamentamos a sua experiência, e repassamos seus comentários para melhorar.\n\nAtenciosamente,\n{agent}',
 '{brand}: Tentamos falar com voce sobre a sua opiniao. Lamentamos a sua experiencia e repassamos seus comentarios. - {agent}'),
('no_action_needed', 'pt', 'Obrigado pela sua opinião', 'Olá {name},',
 E'Obrigado pela sua opinião recente. Nós a lemos com atenção e a encaminhamos à equipe.\n\nAtenciosamente,\n{agent}',
 '{brand}: Obrigado pela sua opiniao. Nos a lemos e encaminhamos a equipe. - {agent}'),

('recovered', 'pl', 'Dziękujemy za rozmowę', 'Dzień dobry {name},',
 E'Dziękujemy, że znaleźli Państwo czas, aby porozmawiać z nami o swoich doświadczeniach. Cieszymy się, że udało się wszystko naprawić. Przekazaliśmy Państwa uwagi dalej, aby sytuacja się nie powtórzyła.\n\nZ wyrazami szacunku\n{agent}',
 '{brand}: Dziekujemy za rozmowe. Cieszymy sie, ze udalo sie wszystko naprawic. - {agent}'),
('not_recovered', 'pl', 'Dziękujemy za opinię', 'Dzień dobry {name},',
 E'Dziękujemy za rozmowę o Państwa doświadczeniach. Przykro nam, że nie udało się rozwiązać wszystkiego zgodnie z Państwa oczekiwaniami. Państwa uwagi trafiły do odpowiedzialnego zespołu, abyśmy mogli działać lepiej.\n\nZ wyrazami szacunku\n{agent}',
 '{brand}: Dziekujemy za rozmowe. Przykro nam, ze nie wszystko udalo sie rozwiazac; uwagi trafily do zespolu. - {agent}'),
('unreachable', 'pl', 'Próbowaliśmy się z Państwem skontaktować', 'Dzień dobry {name},',
 E'Próbowaliśmy skontaktować się z Państwem w sprawie niedawnej opinii, niestety bez powodzenia. Przykro nam z powodu Państwa doświadczeń. Przekazaliśmy Państwa uwagi dalej, abyśmy mogli działać lepiej.\n\nZ wyrazami szacunku\n{agent}',
 '{brand}: Probowalismy skontaktowac sie w sprawie Panstwa opinii. Przykro nam; uwagi przekazalismy dalej. - {agent}'),
('no_action_needed', 'pl', 'Dziękujemy za opinię', 'Dzień dobry {name},',
 E'Dziękujemy za niedawną opinię. Przeczytaliśmy ją uważnie i przekazaliśmy zespołowi.\n\nZ wyrazami szacunku\n{agent}',
 '{brand}: Dziekujemy za opinie. Przeczytalismy ja i przekazalismy zespolowi. - {agent}')
ON CONFLICT (outcome, locale) DO NOTHING;
"""

DOWNGRADE = r"""
DELETE FROM recovery_message_templates
 WHERE locale IN ('fr', 'es', 'it', 'nl', 'pt', 'pl') AND updated_by IS NULL;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
