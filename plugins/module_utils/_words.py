# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hashes in words for reading aloud: the PGP word list (Juola and Zimmermann, 1995).

Each byte becomes a word, from the "even" list at even positions and the "odd" list at odd ones, so a word read
twice, dropped or two words swapped are heard at once. (The last odd word, Yucatan, is written without its accent.)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

EVEN = '''
    aardvark absurd accrue acme adrift adult afflict ahead aimless Algol allow alone ammo ancient apple artist
    assume Athens atlas Aztec baboon backfield backward banjo beaming bedlamp beehive beeswax befriend Belfast
    berserk billiard bison blackjack blockade blowtorch bluebird bombast bookshelf brackish breadline breakup
    brickyard briefcase Burbank button buzzard cement chairlift chatter checkup chisel choking chopper
    Christmas clamshell classic classroom cleanup clockwork cobra commence concert cowbell crackdown cranky
    crowfoot crucial crumpled crusade cubic dashboard deadbolt deckhand dogsled dragnet drainage dreadful
    drifter dropper drumbeat drunken Dupont dwelling eating edict egghead eightball endorse endow enlist erase
    escape exceed eyeglass eyetooth facial fallout flagpole flatfoot flytrap fracture framework freedom
    frighten gazelle Geiger glitter glucose goggles goldfish gremlin guidance hamlet highchair hockey indoors
    indulge inverse involve island jawbone keyboard kickoff kiwi klaxon locale lockup merit minnow miser
    Mohawk mural music necklace Neptune newborn nightbird Oakland obtuse offload optic orca payday peachy
    pheasant physique playhouse Pluto preclude prefer preshrunk printer prowler pupil puppy python quadrant
    quiver quota ragtime ratchet rebirth reform regain reindeer rematch repay retouch revenge reward rhythm
    ribcage ringbolt robust rocker ruffled sailboat sawdust scallion scenic scorecard Scotland seabird select
    sentence shadow shamrock showgirl skullcap skydive slingshot slowdown snapline snapshot snowcap snowslide
    solo southward soybean spaniel spearhead spellbind spheroid spigot spindle spyglass stagehand stagnate
    stairway standard stapler steamship sterling stockman stopwatch stormy sugar surmount suspense sweatband
    swelter tactics talon tapeworm tempest tiger tissue tonic topmost tracker transit trauma treadmill Trojan
    trouble tumor tunnel tycoon uncut unearth unwind uproot upset upshot vapor village virus Vulcan waffle
    wallet watchword wayside willow woodlark Zulu
'''.split()

ODD = '''
    adroitness adviser aftermath aggregate alkali almighty amulet amusement antenna applicant Apollo armistice
    article asteroid Atlantic atmosphere autopsy Babylon backwater barbecue belowground bifocals bodyguard
    bookseller borderline bottomless Bradbury bravado Brazilian breakaway Burlington businessman butterfat
    Camelot candidate cannonball Capricorn caravan caretaker celebrate cellulose certify chambermaid Cherokee
    Chicago clergyman coherence combustion commando company component concurrent confidence conformist
    congregate consensus consulting corporate corrosion councilman crossover crucifix cumbersome customer
    Dakota decadence December decimal designing detector detergent determine dictator dinosaur direction
    disable disbelief disruptive distortion document embezzle enchanting enrollment enterprise equation
    equipment escapade Eskimo everyday examine existence exodus fascinate filament finicky forever fortitude
    frequency gadgetry Galveston getaway glossary gossamer graduate gravity guitarist hamburger Hamilton
    handiwork hazardous headwaters hemisphere hesitate hideaway holiness hurricane hydraulic impartial impetus
    inception indigo inertia infancy inferno informant insincere insurgent integrate intention inventive
    Istanbul Jamaica Jupiter leprosy letterhead liberty maritime matchmaker maverick Medusa megaton microscope
    microwave midsummer millionaire miracle misnomer molasses molecule Montana monument mosquito narrative
    nebula newsletter Norwegian October Ohio onlooker opulent Orlando outfielder Pacific pandemic Pandora
    paperweight paragon paragraph paramount passenger pedigree Pegasus penetrate perceptive performance
    pharmacy phonetic photograph pioneer pocketful politeness positive potato processor provincial proximate
    puberty publisher pyramid quantity racketeer rebellion recipe recover repellent replica reproduce resistor
    responsive retraction retrieval retrospect revenue revival revolver sandalwood sardonic Saturday savagery
    scavenger sensation sociable souvenir specialist speculate stethoscope stupendous supportive surrender
    suspicious sympathy tambourine telephone therapist tobacco tolerance tomorrow torpedo tradition travesty
    trombonist truncated typewriter ultimate undaunted underfoot unicorn unify universe unravel upcoming
    vacancy vagabond vertigo Virginia visitor vocalist voyager warranty Waterloo whimsical Wichita Wilmington
    Wyoming yesteryear Yucatan
'''.split()


def to_words(data):
    """bytes -> the PGP words, one a byte."""
    return [(EVEN if i % 2 == 0 else ODD)[b] for i, b in enumerate(bytearray(data))]


def from_words(text):
    """Words (any case, any spacing or hyphens) -> bytes; ValueError naming the first word out of place."""
    even = dict((w.lower(), n) for n, w in enumerate(EVEN))
    odd = dict((w.lower(), n) for n, w in enumerate(ODD))
    out = bytearray()
    for i, word in enumerate(text.replace('-', ' ').replace(',', ' ').split()):
        table = even if i % 2 == 0 else odd
        if word.lower() not in table:
            other = odd if i % 2 == 0 else even
            raise ValueError('word %d, %r, is not a PGP word%s' % (
                i + 1, word, ' for its place (a word was dropped or two were swapped)' if word.lower() in other else ''))
        out.append(table[word.lower()])
    return bytes(out)
